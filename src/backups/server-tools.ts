import { spawn } from 'node:child_process';
import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ArchiveError } from './zip-read.ts';

/** A database URL taken apart for the command-line clients (the password goes through the environment). */
export interface ServerUrl {
  engine: 'postgres' | 'mysql';
  host: string;
  port: string;
  user: string;
  password: string;
  database: string;
}

/** Takes a `postgres://` or `mysql://`/`mariadb://` URL apart for the client tools and drivers. */
export function parseServerUrl(url: string): ServerUrl {
  const u = new URL(url.replace(/^mariadb:/, 'mysql:').replace(/^postgresql:/, 'postgres:'));
  const engine = u.protocol === 'postgres:' ? 'postgres' : 'mysql';
  return {
    engine,
    host: u.hostname || '127.0.0.1',
    port: u.port || (engine === 'postgres' ? '5432' : '3306'),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
  };
}

/** The first of `names` found on PATH, or a clear error naming the Debian package that has it. */
async function findTool(names: string[], pkg: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean))
    for (const name of names) {
      const path = join(dir, name);
      if (
        await access(path, constants.X_OK).then(
          () => true,
          () => false,
        )
      )
        return path;
    }
  throw new ArchiveError(`${names[0]} was not found on PATH; install Debian's ${pkg} package.`);
}

/** Runs a client tool; its stdin from `input` when given; rejects with the end of its stderr. */
function run(tool: string, args: string[], env: Record<string, string>, input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`${tool} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`),
          ),
    );
    if (input) createReadStream(input).pipe(child.stdin);
    else child.stdin.end();
  });
}

/**
 * Dumps the database to a SQL file. PostgreSQL: `pg_dump`, one repeatable-read snapshot; MariaDB:
 * `mariadb-dump --single-transaction`, one consistent snapshot of InnoDB tables. Neither blocks writers.
 */
export async function dumpServer(db: ServerUrl, target: string): Promise<void> {
  if (db.engine === 'postgres') {
    const tool = await findTool(['pg_dump'], 'postgresql-client');
    const args = ['--no-owner', '--no-privileges', '--format=plain', `--file=${target}`];
    return run(tool, [...args, '-h', db.host, '-p', db.port, '-U', db.user, db.database], {
      PGPASSWORD: db.password,
    });
  }
  const tool = await findTool(['mariadb-dump', 'mysqldump'], 'mariadb-client');
  const args = [
    '--single-transaction',
    '--skip-lock-tables',
    '--no-tablespaces',
    '--hex-blob',
    '--skip-triggers',
  ];
  return run(
    tool,
    [...args, `--result-file=${target}`, '-h', db.host, '-P', db.port, '-u', db.user, db.database],
    {
      MYSQL_PWD: db.password,
    },
  );
}

/** Loads a SQL dump into a database (a scratch one: the live database is never the target). */
export async function loadServer(db: ServerUrl, file: string): Promise<void> {
  if (db.engine === 'postgres') {
    const tool = await findTool(['psql'], 'postgresql-client');
    const args = [
      '--no-psqlrc',
      '--quiet',
      '-v',
      'ON_ERROR_STOP=1',
      '--single-transaction',
      `--file=${file}`,
    ];
    return run(tool, [...args, '-h', db.host, '-p', db.port, '-U', db.user, db.database], {
      PGPASSWORD: db.password,
    });
  }
  const tool = await findTool(['mariadb', 'mysql'], 'mariadb-client');
  return run(
    tool,
    ['--batch', '-h', db.host, '-P', db.port, '-u', db.user, db.database],
    { MYSQL_PWD: db.password },
    file,
  );
}
