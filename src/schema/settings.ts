import type { Database } from '../db/index.ts';
import { ApiError, badRequest, type ErrorData, fieldError } from '../errors/index.ts';
import { Hook } from '../hooks/index.ts';
import { isPlainObject, type SecretBox } from '../lib/index.ts';
import { readParam, writeParam } from './params.ts';
import { validateSettings } from './settings-rules.ts';
import {
  openSettings,
  resealSettings,
  SECRET_SETTINGS,
  sealSettings,
  withoutSecrets,
} from './settings-secrets.ts';
import { defaultSettings, SETTINGS_SHAPE, type Settings, type SettingsShape } from './settings-sections.ts';

export { defaultSettings, type Settings } from './settings-sections.ts';

export interface SettingsStore {
  /** The current settings (cached; secrets included: for the mailer, never for responses). */
  get(): Settings;
  /** Merges a superuser's patch, validating every field; a bad or unknown one is a 400 naming it. */
  update(patch: unknown): Promise<Settings>;
  /** The JSON a superuser sees: secrets left out, as PocketBase leaves them out. */
  toJson(settings?: Settings): Record<string, unknown>;
  reload(): Promise<void>;
  /** Triggered after an update is stored (other nodes of a cluster reload then). */
  readonly changed: Hook<Settings>;
}

const ROW_ID = 'settings';
const SECRET_PATHS = new Set(SECRET_SETTINGS.map((path) => path.join('.')));
const unknownKey = () => fieldError('validation_unknown_field', 'Unknown setting.');

/**
 * Copies `input` into `target` key by key, checking each against `shape`. A key the shape does not have is
 * an error (PocketBase drops it silently; a client told "saved" would lose the value). Sections merge
 * key by key, so a patch changes only what it sends.
 */
function mergeInto(
  target: Record<string, unknown>,
  input: Record<string, unknown>,
  shape: SettingsShape,
  path: string,
): ErrorData {
  const errors: ErrorData = {};
  for (const [key, value] of Object.entries(input)) {
    const rule = Object.hasOwn(shape, key) ? shape[key] : undefined;
    const at = path ? `${path}.${key}` : key;
    if (rule === undefined) errors[key] = unknownKey();
    else if (typeof rule !== 'function') {
      if (!isPlainObject(value)) errors[key] = fieldError('validation_invalid_value', 'Must be an object.');
      else {
        const nested = mergeInto(target[key] as Record<string, unknown>, value, rule, at);
        if (Object.keys(nested).length) errors[key] = nested;
      }
    } else if (SECRET_PATHS.has(at) && value === '') {
      // An empty secret keeps the stored one: the GET answer never shows it, so a form sends it back empty.
    } else {
      const problem = rule(value);
      if (typeof problem === 'string') errors[key] = fieldError('validation_invalid_value', problem);
      else if (problem) errors[key] = problem;
      else target[key] = structuredClone(value);
    }
  }
  return errors;
}

/** The defaults with what is stored laid over them, key by key; keys no longer known are dropped. */
function fill(base: Record<string, unknown>, stored: Record<string, unknown>): void {
  for (const key of Object.keys(base)) {
    const value = stored[key];
    if (value === undefined) continue;
    if (isPlainObject(base[key])) {
      if (isPlainObject(value)) fill(base[key] as Record<string, unknown>, value);
    } else base[key] = value;
  }
}

function pick(errors: ErrorData, keys: readonly string[]): ErrorData {
  return Object.fromEntries(Object.entries(errors).filter(([key]) => keys.includes(key)));
}

/** `secrets` encrypts the secret settings in the database with a key kept outside it. */
export async function createSettingsStore(
  db: Database,
  appURL: string,
  secrets?: SecretBox,
): Promise<SettingsStore> {
  let current = defaultSettings(appURL);

  async function read(): Promise<Settings> {
    const stored = openSettings((await readParam<Record<string, unknown>>(db, ROW_ID)) ?? {}, secrets);
    // Stored values were validated on the way in; a newer default fills what an older row lacks.
    const base = defaultSettings(appURL);
    fill(base as unknown as Record<string, unknown>, stored);
    return base;
  }

  const changed = new Hook<Settings>();
  const store: SettingsStore = {
    changed,
    get: () => current,
    async reload() {
      current = await read();
    },
    async update(patch) {
      // No body is PocketBase's "nothing to change": the current settings come back.
      if (patch === undefined || patch === null) patch = {};
      if (!isPlainObject(patch)) throw badRequest('An error occurred while loading the submitted data.');
      const settings = await read();
      const target = settings as unknown as Record<string, unknown>;
      let errors = mergeInto(target, patch, SETTINGS_SHAPE, '');
      // Rules are checked only in the sections the patch sends: a default or an older stored value that a
      // newer rule refuses (an app URL built from `--http [::]:8090`) must not block every other change.
      if (!Object.keys(errors).length) errors = pick(validateSettings(settings), Object.keys(patch));
      if (Object.keys(errors).length)
        throw new ApiError(400, 'An error occurred while saving the new settings.', errors);
      await writeParam(db, ROW_ID, sealSettings(settings, secrets));
      current = settings;
      await changed.trigger(settings);
      return settings;
    },
    toJson: (settings = current) => withoutSecrets(settings),
  };
  if (secrets) await resealSettings(db, ROW_ID, secrets);
  await store.reload();
  return store;
}
