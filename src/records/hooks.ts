import { Hook } from '../hooks/index.ts';
import type { RecordEvent } from './types.ts';

/**
 * Record lifecycle hooks. `create`/`update`/`delete` run inside the write's transaction around the SQL
 * statement (a handler that throws rolls it back); the `after*` hooks run once it has committed.
 */
export interface RecordHooks {
  create: Hook<RecordEvent>;
  update: Hook<RecordEvent>;
  delete: Hook<RecordEvent>;
  afterCreate: Hook<RecordEvent>;
  afterUpdate: Hook<RecordEvent>;
  afterDelete: Hook<RecordEvent>;
}

export function createRecordHooks(): RecordHooks {
  return {
    create: new Hook(),
    update: new Hook(),
    delete: new Hook(),
    afterCreate: new Hook(),
    afterUpdate: new Hook(),
    afterDelete: new Hook(),
  };
}
