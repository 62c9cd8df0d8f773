export { createLogReader, type LogReader, type LogRow, type LogsQuery } from './reader.ts';
export { type LogSink, sqlSink, workerSink } from './sinks.ts';
export { LOGS_MIGRATIONS, LOGS_TABLE } from './table.ts';
export { createLogWriter, type LogEntry, type LogWriter } from './writer.ts';
