import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { explainListenError, explainStartupError, StartupError } from './startup-errors.ts';

const config = (db: string) => loadConfig({ db, dir: '/var/lib/plinth' }, {});
/** An error as a driver throws it: a message and the fields the CLI reads. */
const driverError = (fields: Record<string, unknown>) => Object.assign(new Error('driver text'), fields);

describe('start-up errors', () => {
  it('words each known database problem as one line that names the fix and never the password', () => {
    const pg = config('postgres://app:s3cret@db.internal:6432/shop');
    const my = config('mysql://app:s3cret@db.internal/shop');
    const cases: [unknown, ReturnType<typeof config>, RegExp][] = [
      [
        driverError({ code: 'ECONNREFUSED' }),
        pg,
        /cannot reach the PostgreSQL database at db\.internal:6432/,
      ],
      [driverError({ code: 'ECONNREFUSED' }), my, /MySQL\/MariaDB database at db\.internal:3306/],
      [driverError({ code: 'ENOTFOUND' }), pg, /cannot resolve the database host db\.internal/],
      [new Error('Connection terminated due to connection timeout'), pg, /did not answer \(timed out\)/],
      [driverError({ code: 'ETIMEDOUT' }), my, /did not answer \(ETIMEDOUT\)/],
      [
        driverError({ code: '3D000' }),
        pg,
        /the database "shop" does not exist on db\.internal:6432\. Create it/,
      ],
      [driverError({ code: 'ER_BAD_DB_ERROR' }), my, /the database "shop" does not exist/],
      [driverError({ code: '28P01' }), pg, /refused user "app"/],
      [driverError({ code: '28000' }), pg, /refused user "app"/],
      [new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), pg, /refused user/],
      [driverError({ code: 'ER_ACCESS_DENIED_ERROR' }), my, /refused user "app"/],
      [driverError({ code: 'ER_DBACCESS_DENIED_ERROR' }), my, /may not create tables in the database "shop"/],
      [driverError({ code: '42501' }), pg, /GRANT/],
    ];
    for (const [err, cfg, pattern] of cases) {
      const line = explainStartupError(err, cfg);
      assert.match(line ?? '', pattern, String(err));
      assert.doesNotMatch(line ?? '', /s3cret|driver text|\n/);
    }
  });

  it('words SQLite and file problems, extended result codes included', () => {
    const sqlite = config('');
    const sqliteErr = (errcode: number) => driverError({ code: 'ERR_SQLITE_ERROR', errcode });
    assert.match(
      explainStartupError(sqliteErr(14), sqlite)!,
      /cannot open the SQLite database \/var\/lib\/plinth\/data\.db/,
    );
    assert.match(explainStartupError(sqliteErr(8 | (1 << 8)), sqlite)!, /is read-only/);
    assert.match(explainStartupError(sqliteErr(26), sqlite)!, /is not a SQLite database/);
    const fsErr = driverError({ code: 'EROFS', path: '/var/lib/plinth/data.db', syscall: 'open' });
    assert.match(
      explainStartupError(fsErr, sqlite)!,
      /cannot use \/var\/lib\/plinth\/data\.db: the file system is read-only/,
    );
    assert.equal(explainStartupError(new StartupError('said already'), sqlite), 'said already');
  });

  it('leaves unknown errors alone, so that a bug keeps its stack trace', () => {
    assert.equal(explainStartupError(new TypeError('x is undefined'), config('')), undefined);
    assert.equal(explainStartupError(driverError({ code: 'ECONNREFUSED' }), config('')), undefined);
    assert.equal(explainStartupError(undefined, config('')), undefined);
  });

  it('words listen failures', () => {
    const listen = (code: string) => explainListenError(driverError({ code }), '0.0.0.0', 80);
    assert.match(listen('EADDRINUSE')!, /0\.0\.0\.0:80 is already in use/);
    assert.match(listen('EACCES')!, /no permission to listen on 0\.0\.0\.0:80/);
    assert.match(listen('EADDRNOTAVAIL')!, /not an address of this machine/);
    assert.equal(listen('EWHATEVER'), undefined);
  });
});
