// `node bench/mariadb-text-index.ts`: the same 1M rows on MariaDB with status/created as VARCHAR instead
// of LONGTEXT (Plinth's text kinds on MariaDB), indexed whole, against LONGTEXT indexed by a 255-character
// prefix as Plinth's dialect does; times the big-tables page and counts on the driver, 30 runs each (see
// docs/benchmarks.md, Big tables). Makes and drops a database plinth_bench_whatif_*.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

const admin = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306/' });
const name = `plinth_bench_whatif_${process.pid}_${randomBytes(4).toString('hex')}`;
await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
const N = 1_000_000;
const statusOf = (i: number) => (i % 10 === 3 ? 'open' : i % 100 === 7 ? 'pending' : 'done');
const createdOf = (i: number) =>
  new Date(Date.parse('2024-01-01T00:00:00Z') + i * 1000).toISOString().replace('T', ' ');
try {
  const c = await mysql.createConnection({ uri: `mysql://root@127.0.0.1:3306/${name}` });
  for (const [label, type] of [
    ['varchar', 'VARCHAR(255)'],
    ['longtext', 'LONGTEXT'],
  ] as const) {
    const t = `ev_${label}`;
    await c.query(
      `CREATE TABLE ${t} (id VARCHAR(255) PRIMARY KEY, status ${type} COLLATE utf8mb4_nopad_bin NOT NULL, n DOUBLE NOT NULL, created ${type} COLLATE utf8mb4_nopad_bin NOT NULL, updated ${type} NOT NULL)`,
    );
    await c.query(
      `CREATE INDEX idx_${t} ON ${t} (status${label === 'longtext' ? '(255)' : ''}, created${label === 'longtext' ? '(255)' : ''})`,
    );
    for (let i = 0; i < N; i += 5000) {
      const rows = [];
      for (let j = i; j < i + 5000; j++)
        rows.push([`e${String(j).padStart(14, '0')}`, statusOf(j), j, createdOf(j), createdOf(j)]);
      await c.query(`INSERT INTO ${t} VALUES ?`, [rows]);
    }
    await c.query(`ANALYZE TABLE ${t}`);
    for (const [q, p] of [
      [`SELECT * FROM ${t} WHERE status = ? ORDER BY created DESC LIMIT 20`, ['open']],
      [`SELECT COUNT(*) FROM ${t} WHERE status = ?`, ['open']],
      [`SELECT COUNT(*) FROM ${t} WHERE status = ?`, ['done']],
    ] as const) {
      const ms: number[] = [];
      for (let k = 0; k < 30; k++) {
        const s = performance.now();
        await c.execute(q, p as unknown as string[]);
        ms.push(performance.now() - s);
        if (k >= 9 && ms.reduce((a, b) => a + b) > 15000) break;
      }
      ms.sort((a, b) => a - b);
      const [plan] = await c.query(`EXPLAIN ${q}`, p as unknown as string[]);
      const r = (plan as Array<Record<string, unknown>>)[0]!;
      console.log(
        `${label} ${q.replace(t, 'events')} [${p}]: p50 ${ms[Math.floor(ms.length / 2)]!.toFixed(2)} ms over ${ms.length}; ${r.type} key=${r.key} ${r.Extra}`,
      );
    }
    await c.query(`DROP TABLE ${t}`);
  }
  await c.end();
} finally {
  await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin.end();
}
