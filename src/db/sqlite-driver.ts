import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { GROUP_MAX_MS, Group, type StatementKind, statementKind, type WalSync } from './sqlite-group.ts';
import { type Deadline, installGuard } from './sqlite-guard.ts';
import { toObjects } from './sqlite-rows.ts';

/**
 * libuv's count of event-loop turns, raised just before each poll for I/O: a read transaction opened under
 * one count began before any I/O that a later count brings.
 */
const loopCount = () => performance.nodeTiming.uvMetricsInfo.loopCount;

/** Bound on the prepared-statement cache; dynamic SQL (filters) must not grow it forever. */
const STATEMENT_CACHE_LIMIT = 1000;

type SqliteValue = null | number | bigint | string | Uint8Array;

/**
 * Kysely dialect for Node's built-in `node:sqlite`: no native module to build. One connection, as
 * node:sqlite is synchronous; a mutex keeps a transaction's queries together across awaits.
 */
export class NodeSqliteDialect implements Dialect {
  readonly #open: () => DatabaseSync;
  readonly #limitMs: number;
  readonly #groupCommit: boolean;
  readonly #wal?: WalSync;
  readonly #writeLock?: WriteLock;
  /** The driver Kysely made, for the synchronous fast path (`runNow`). */
  driver?: NodeSqliteDriver;
  /**
   * `limitMs`: statements on this connection run on the event loop, so those the guard can stop (compiled
   * rules and filters: sqlite-guard.ts) stop after this long. `groupCommit`: writes that arrive together
   * share one COMMIT (sqlite-group.ts); `wal`: the connection runs with synchronous=NORMAL and groups are
   * made durable by syncing the WAL off the event loop. `writeLock`: with group commit, taken before each
   * write transaction and given back after its COMMIT, when other processes write the same file.
   */
  constructor(
    open: () => DatabaseSync,
    limitMs = Number.POSITIVE_INFINITY,
    groupCommit = false,
    wal?: WalSync,
    writeLock?: WriteLock,
  ) {
    this.#open = open;
    this.#limitMs = limitMs;
    this.#groupCommit = groupCommit;
    this.#wal = wal;
    this.#writeLock = writeLock;
  }
  createDriver(): Driver {
    this.driver = new NodeSqliteDriver(
      this.#open,
      this.#limitMs,
      this.#groupCommit,
      this.#wal,
      this.#writeLock,
    );
    return this.driver;
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db);
  }
}

/** Opens a SQLite file with the pragmas Plinth relies on. */
export function openSqlite(path: string, synchronous: 'FULL' | 'NORMAL'): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 10000');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec('PRAGMA cache_size = -32000');
  return db;
}

/**
 * A lock shared by the processes that write one SQLite file (the workers of `plinth serve --workers N`;
 * src/bus/ipc.ts). SQLite's own lock makes a second writer wait in its busy handler, which sleeps on the
 * event loop and favours whichever process asks again first; this one is granted in turn and awaited
 * without blocking, so a worker serves its reads (and gathers its next group) while another writes.
 */
export interface WriteLock {
  acquire(): Promise<void>;
  release(): void;
}

/** The savepoint each request transaction runs in, inside a group's outer transaction (one at a time). */
const SAVEPOINT = 'plinth_request';

export class NodeSqliteDriver implements Driver {
  readonly #open: () => DatabaseSync;
  readonly #limitMs: number;
  readonly #groupCommit: boolean;
  readonly #wal?: WalSync;
  readonly #writeLock?: WriteLock;
  /** Whether this process holds `#writeLock` (from before a write transaction opens to after it ends). */
  #writing = false;
  #takingWriteLock?: Promise<void>;
  #db?: DatabaseSync;
  #connection?: NodeSqliteConnection;
  #lock: Promise<void> = Promise.resolve();
  #unlock?: () => void;
  /** Acquirers holding or waiting for the connection. */
  #users = 0;
  /** The open group: an outer transaction whose writes are not durable yet (group commit only). */
  #group?: Group;
  #flushQueued = false;
  /**
   * The read transaction the event loop's reads share within one turn (`#readNow`), as the loop count of
   * the turn that opened it: each SELECT in autocommit takes and drops SQLite's WAL read lock (system calls
   * that cost several times the lookup itself).
   */
  #snapshot?: number;
  #closerQueued = false;
  readonly #closer = () => {
    this.#closerQueued = false;
    this.#endSnapshot();
  };
  /** Groups committed so far (tests read it to see which writes shared a COMMIT). */
  commits = 0;
  /** How long a group stays open at most (tests that count COMMITs lift it: a slow machine would split). */
  groupMaxMs = GROUP_MAX_MS;

  constructor(
    open: () => DatabaseSync,
    limitMs: number,
    groupCommit: boolean,
    wal?: WalSync,
    writeLock?: WriteLock,
  ) {
    this.#open = open;
    this.#limitMs = limitMs;
    this.#groupCommit = groupCommit;
    this.#wal = groupCommit ? wal : undefined;
    this.#writeLock = groupCommit ? writeLock : undefined;
  }

  /** Settles once this process holds the write lock; undefined when it does already (or there is none). */
  #takeWriteLock(): Promise<void> | undefined {
    if (!this.#writeLock || this.#writing) return undefined;
    this.#takingWriteLock ??= this.#writeLock.acquire().then(() => {
      this.#writing = true;
      this.#takingWriteLock = undefined;
    });
    return this.#takingWriteLock;
  }

  /** Gives the write lock back: no write transaction is open (after a COMMIT, or when none came). */
  #giveWriteLock(): void {
    if (!this.#writing || this.#group) return;
    this.#writing = false;
    this.#writeLock!.release();
  }

  /**
   * Settles once every write committed so far is durable; undefined when it is. Reads on other connections
   * (reader threads) wait for it before answering, as they may see a group whose WAL sync is under way.
   */
  settled(): Promise<void> | undefined {
    return this.#wal?.pending();
  }

  async init(): Promise<void> {
    this.#db = this.#open();
    this.#connection = new NodeSqliteConnection(this.#db, installGuard(this.#db), this.#limitMs);
  }

  /**
   * Runs one statement outside transactions at once when nobody holds or awaits the connection, else
   * returns undefined. A statement runs synchronously, so with the connection free nothing can interleave
   * with it: this skips the mutex and Kysely's executor on the hot path. With group commit a write answers
   * a promise that settles once it is durable, and a read waits for the open group's COMMIT.
   */
  runNow<R>(sql: string, params: readonly unknown[]): QueryResult<R> | Promise<QueryResult<R>> | undefined {
    if (this.#users > 0 || !this.#connection) return undefined;
    if (!this.#group && !this.#wal?.pending() && statementKind(sql) === 'read')
      return this.#readNow<R>(sql, params);
    this.#endSnapshot();
    if (!this.#groupCommit) return this.#connection.executeSync<R>(sql, params);
    return this.#runFree<R>(sql, params, true);
  }

  /**
   * A SELECT with the connection free and nothing waiting to be durable: in the turn's read transaction
   * (docs/decisions/0014-read-snapshot-per-turn.md). It is opened by the first such read after the loop
   * last polled for I/O, and ended at the latest in the turn's check phase, before anything else uses the
   * connection, and by the next poll: no read in it can miss a write answered before its request was sent.
   */
  #readNow<R>(sql: string, params: readonly unknown[]): QueryResult<R> {
    this.#enterTurnSnapshot();
    try {
      return this.#connection!.executeSync<R>(sql, params);
    } catch (err) {
      this.#endSnapshot();
      throw err;
    }
  }

  /** Opens the turn's read transaction unless this turn has one (no closure: this is the hot path). */
  #enterTurnSnapshot(): void {
    const turn = loopCount();
    if (this.#snapshot === turn) return;
    this.#endSnapshot();
    if (this.#db!.isTransaction) return;
    this.#connection!.executeSync('begin', []);
    this.#snapshot = turn;
    if (!this.#closerQueued) {
      this.#closerQueued = true;
      setImmediate(this.#closer);
    }
  }

  /**
   * Several SELECTs at once, in the turn's read transaction (one snapshot, as on a reader), when they can
   * run now as a lookup by key does: the connection free and nothing waiting to be durable. Answers each
   * one's rows, or undefined when they cannot run now.
   */
  readBatchNow(
    statements: ReadonlyArray<{ sql: string; params: readonly unknown[] }>,
  ): unknown[][] | undefined {
    if (this.#users > 0 || !this.#connection || this.#group || this.#wal?.pending()) return undefined;
    if (!statements.every((s) => statementKind(s.sql) === 'read')) return undefined;
    const connection = this.#connection;
    this.#enterTurnSnapshot();
    try {
      return statements.map((s) => connection.readObjects(s.sql, s.params));
    } catch (err) {
      this.#endSnapshot();
      throw err;
    }
  }

  /** Ends the turn's read transaction, if one is open. */
  #endSnapshot(): void {
    if (this.#snapshot === undefined) return;
    this.#snapshot = undefined;
    if (!this.#db?.isTransaction) return;
    try {
      this.#connection!.executeSync('commit', []);
    } catch {
      // A read transaction holds no change: ending it cannot lose one.
      if (this.#db.isTransaction) this.#db.exec('rollback');
    }
  }

  /** One statement outside transactions: at once when the connection is free, else after its holders. */
  run<R>(sql: string, params: readonly unknown[]): QueryResult<R> | Promise<QueryResult<R>> | undefined {
    return this.runNow<R>(sql, params) ?? (this.#connection ? this.#runQueued<R>(sql, params) : undefined);
  }

  async #runQueued<R>(sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    const lease = await this.acquireConnection();
    let result: QueryResult<R> | Promise<QueryResult<R>>;
    try {
      if (!this.#groupCommit) return this.#connection!.executeSync<R>(sql, params);
      result = this.#runFree<R>(sql, params, false);
      // A write in a group is done with the connection: its durability is awaited with the connection
      // released, so that others join its group. Anything else keeps it until it has run.
      if (statementKind(sql) !== 'write') return await result;
    } finally {
      await this.releaseConnection(lease);
    }
    return result;
  }

  /** A statement outside transactions, with the connection to itself (free, or held by the caller). */
  #runFree<R>(
    sql: string,
    params: readonly unknown[],
    mayWait: boolean,
  ): QueryResult<R> | Promise<QueryResult<R>> {
    // From the text, not the prepared statement: a PRAGMA prepared inside a transaction is a no-op.
    const kind = statementKind(sql);
    const group = this.#group;
    if (kind === 'write') {
      // Another process may be writing: wait for the lock off the event loop, then run as if queued.
      const locking = group ? undefined : this.#takeWriteLock();
      if (locking) return locking.then(() => this.#runQueued<R>(sql, params));
      const joined = group ?? this.#openGroup();
      try {
        const result = this.#exec<R>(sql, params);
        return joined.durable.then(() => result);
      } finally {
        joined.size++;
        this.#closeOrQueue(joined);
      }
    }
    // A read waits for the open group's COMMIT (and sync) rather than force it, so that it does not cut the
    // group short; it then goes behind the connection's holders, and past one wait it makes whatever is
    // open durable itself.
    const wait = group?.durable ?? this.#wal?.pending();
    if (mayWait && (wait || kind === 'alone')) {
      // Not holding the connection: what may wait goes behind its holders.
      const again = () => this.#runQueued<R>(sql, params);
      return wait && kind === 'read' ? wait.then(again, again) : again();
    }
    return this.#runAlone<R>(sql, params, kind);
  }

  /**
   * A statement outside any group, as before groups: after what is open is durable, and durable itself
   * when it returns. The caller holds the connection until it settles (or nothing is open: it runs now).
   */
  #runAlone<R>(
    sql: string,
    params: readonly unknown[],
    kind: StatementKind,
  ): QueryResult<R> | Promise<QueryResult<R>> {
    this.#commitGroup();
    const locking = kind === 'read' ? undefined : this.#takeWriteLock();
    if (locking) return locking.then(() => this.#runAlone<R>(sql, params, kind));
    // Waits on the thread pool's sync, not on this thread: the event loop keeps serving.
    const pending = this.#wal?.pending();
    if (pending) return pending.then(() => this.#runAloneNow<R>(sql, params, kind));
    return this.#runAloneNow<R>(sql, params, kind);
  }

  #runAloneNow<R>(
    sql: string,
    params: readonly unknown[],
    kind: StatementKind,
  ): QueryResult<R> | Promise<QueryResult<R>> {
    let result: QueryResult<R>;
    try {
      result = this.#connection!.executeSync<R>(sql, params);
    } finally {
      // Autocommitted (or failed): nothing holds SQLite's write lock now.
      this.#giveWriteLock();
    }
    if (kind === 'read' || !this.#wal) return result;
    const synced = new Group();
    this.#wal.add(synced);
    return synced.durable.then(() => result);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // Whoever takes the connection (a transaction, a queued statement) starts outside any transaction.
    this.#endSnapshot();
    this.#users++;
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    this.#unlock = release;
    return new Lease(this.#connection!, (lease, sql, params) => this.#leaseExecute(lease, sql, params));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    if (lease.released) return;
    lease.released = true;
    this.#release();
  }

  #release(): void {
    const unlock = this.#unlock;
    this.#unlock = undefined;
    this.#users--;
    unlock?.();
    if (this.#group) this.#queueFlush();
  }

  #leaseExecute<R>(
    lease: Lease,
    sql: string,
    params: readonly unknown[],
  ): QueryResult<R> | Promise<QueryResult<R>> {
    if (lease.released) throw new Error('the SQLite connection was used after its release');
    if (!this.#groupCommit) return this.#connection!.executeSync<R>(sql, params);
    const member = lease.member;
    if (member) {
      // SQLite ended the outer transaction: what follows would run outside any transaction.
      if (member.failure !== undefined) throw member.failure;
      return this.#exec<R>(sql, params);
    }
    // Outside a transaction on Kysely's path: autocommit as before groups, after the open group's COMMIT
    // (so a read never sees writes that are not durable, and a write is durable when it returns).
    return this.#runAlone<R>(sql, params, statementKind(sql));
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#groupCommit) {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
      return;
    }
    const lease = connection as Lease;
    if (this.#group?.full(this.groupMaxMs)) this.#commitGroup();
    // Holding the connection: the requests behind this one wait with it, and join its group.
    if (!this.#group) await this.#takeWriteLock();
    const group = this.#group ?? this.#openGroup();
    this.#exec(`savepoint ${SAVEPOINT}`, []);
    lease.member = group;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#groupCommit) {
      await connection.executeQuery(CompiledQuery.raw('commit'));
      return;
    }
    const lease = connection as Lease;
    const group = lease.member!;
    if (group.failure !== undefined) throw group.failure;
    this.#exec(`release ${SAVEPOINT}`, []);
    lease.member = undefined;
    group.size++;
    // The request is done with the connection: free it now, so that the requests waiting for it join this
    // group, and answer once the group is durable (Kysely's own release later finds it released).
    lease.released = true;
    if (group.full(this.groupMaxMs)) this.#commitGroup();
    this.#release();
    await group.durable;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#groupCommit) {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
      return;
    }
    const lease = connection as Lease;
    const group = lease.member;
    lease.member = undefined;
    // A failed group took the savepoint with it; a failed COMMIT left nothing of this request to undo.
    if (!group || group.failure !== undefined || group !== this.#group) return;
    this.#exec(`rollback to ${SAVEPOINT}`, []);
    this.#exec(`release ${SAVEPOINT}`, []);
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name}"`));
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint "${name}"`));
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint "${name}"`));
  }

  async destroy(): Promise<void> {
    this.#endSnapshot();
    this.#commitGroup();
    this.#giveWriteLock();
    if (this.#wal?.pending()) this.#wal.syncNow();
    this.#wal?.close();
    this.#connection?.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  #openGroup(): Group {
    this.#connection!.executeSync('begin immediate', []);
    this.#group = new Group();
    return this.#group;
  }

  /** Runs a statement inside the open group; an error that ended SQLite's transaction fails the group. */
  #exec<R>(sql: string, params: readonly unknown[]): QueryResult<R> {
    try {
      return this.#connection!.executeSync<R>(sql, params);
    } catch (err) {
      const group = this.#group;
      if (group && !this.#db!.isTransaction) {
        this.#group = undefined;
        group.failed(err);
      }
      throw err;
    }
  }

  /** Commits the open group (one fsync) and settles its writes. Only when no request transaction is mid-way. */
  #commitGroup(): void {
    const group = this.#group;
    if (!group) return;
    this.#group = undefined;
    try {
      this.#connection!.executeSync('commit', []);
      this.commits++;
      if (this.#wal) this.#wal.add(group);
      else group.committed();
    } catch (err) {
      // A failed COMMIT may leave the transaction open: end it, so that the connection serves the next group.
      if (this.#db!.isTransaction) this.#db!.exec('rollback');
      group.failed(err);
    }
    // The WAL sync runs after this: another process may write meanwhile.
    this.#giveWriteLock();
  }

  /** Full: commit now. Else at the end of this event-loop turn, when the requests that came together joined. */
  #closeOrQueue(group: Group): void {
    if (group.full(this.groupMaxMs)) this.#commitGroup();
    else this.#queueFlush();
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      // Someone holds or awaits the connection: they join, and their release queues the next check.
      if (this.#users === 0) {
        this.#commitGroup();
        // A lock taken for a write that never opened a group (it failed first) goes back too.
        this.#giveWriteLock();
      }
    });
  }
}

type Execute = <R>(
  lease: Lease,
  sql: string,
  params: readonly unknown[],
) => QueryResult<R> | Promise<QueryResult<R>>;

/** One acquisition of the connection, so that the driver knows which request a statement belongs to. */
class Lease implements DatabaseConnection {
  released = false;
  /** The group this lease's request transaction runs in (group commit). */
  member?: Group;
  readonly #connection: NodeSqliteConnection;
  readonly #execute: Execute;

  constructor(connection: NodeSqliteConnection, execute: Execute) {
    this.#connection = connection;
    this.#execute = execute;
  }
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.#execute<R>(this, query.sql, query.parameters);
  }
  streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    return this.#connection.streamQuery<R>(query);
  }
}

class NodeSqliteConnection {
  readonly #db: DatabaseSync;
  readonly #deadline: Deadline;
  readonly #limitMs: number;
  readonly #statements = new Map<string, Prepared>();
  /** SELECTs that answer arrays (`readObjects`). */
  readonly #arrayStatements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, deadline: Deadline, limitMs: number) {
    this.#db = db;
    this.#deadline = deadline;
    this.#limitMs = limitMs;
  }

  clear(): void {
    this.#statements.clear();
    this.#arrayStatements.clear();
  }

  #prepare(sql: string): Prepared {
    let entry = this.#statements.get(sql);
    if (!entry) {
      const stmt = this.#db.prepare(sql);
      entry = { stmt, reader: stmt.columns().length > 0 };
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear();
      this.#statements.set(sql, entry);
    }
    return entry;
  }

  executeSync<R>(sql: string, parameters: readonly unknown[]): QueryResult<R> {
    const { stmt, reader } = this.#prepare(sql);
    const params = parameters.map(toSqliteValue);
    this.#deadline.arm(this.#limitMs);
    if (reader) return { rows: stmt.all(...params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(...params);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }

  /**
   * A SELECT's rows as plain objects made from arrays, as a reader thread's rows are (sqlite-rows.ts):
   * node:sqlite's own row objects have no prototype and are dictionaries to V8, slower to read field by
   * field, and the same query should answer the same kind of rows wherever it runs.
   */
  readObjects(sql: string, parameters: readonly unknown[]): Record<string, unknown>[] {
    let stmt = this.#arrayStatements.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      stmt.setReturnArrays(true);
      if (this.#arrayStatements.size >= STATEMENT_CACHE_LIMIT) this.#arrayStatements.clear();
      this.#arrayStatements.set(sql, stmt);
    }
    const params = parameters.map(toSqliteValue);
    this.#deadline.arm(this.#limitMs);
    const values = stmt.all(...params) as unknown as unknown[][];
    // Read after the run: a schema change since the last one has prepared the statement again by then.
    return toObjects({ columns: stmt.columns().map((c) => c.name), values });
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const { stmt } = this.#prepare(query.sql);
    for (const row of stmt.iterate(...query.parameters.map(toSqliteValue))) yield { rows: [row as R] };
  }
}

interface Prepared {
  stmt: StatementSync;
  reader: boolean;
}

/** A JS value as node:sqlite binds it (booleans as 1/0, dates as ISO text, objects as JSON). */
export function toSqliteValue(value: unknown): SqliteValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
