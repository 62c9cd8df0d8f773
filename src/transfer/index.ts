export { CsvReader, type CsvRecord, readCsv } from './csv-read.ts';
export { csvCell, csvLine } from './csv-write.ts';
export { type DecodeProgress, decodeUtf8, firstInvalidUtf8 } from './decode.ts';
export { TransferError } from './errors.ts';
export { type Format, formatOf, type InputRecord, readRecords } from './input.ts';
export { type JsonRecord, readJsonl } from './jsonl-read.ts';
export { cellText, createRowMapper, type MappedRow, type RowMapper } from './rows.ts';
export { CAST_TYPES, type CastType, castValue, parseTransforms, type Transforms } from './transforms.ts';
