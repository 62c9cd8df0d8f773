import type { Bus } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import type { JobStats, SecretBox } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
import type { Mailer } from '../mail/index.ts';
import type { RecordService } from '../records/index.ts';
import type { Collection, CollectionStore, SettingsStore } from '../schema/index.ts';
import type { AuthDeps } from './context.ts';
import { createEmailFlows } from './email-flows.ts';
import { createFileTokens } from './file-tokens.ts';
import { createInstaller } from './installer.ts';
import type { KeyRing } from './keys.ts';
import { bindSessionLifecycle, bindTokenInvalidation, startSweeper } from './lifecycle.ts';
import { authMethods } from './methods.ts';
import type { AvatarDownloads } from './oauth2/avatar.ts';
import { createOAuth2Flow } from './oauth2/flow.ts';
import { createOtpFlow } from './otp.ts';
import type { Passwords } from './passwords.ts';
import { createCore } from './service.ts';
import { createSessionStore } from './sessions.ts';
import { createSystemAlerts } from './system-alert.ts';
import { createTestEmail } from './test-email.ts';
import type { Throttle } from './throttle.ts';

export type AuthService = ReturnType<typeof createAuthService>;

/** Every auth use case over one set of dependencies: sign-in methods, sessions, email flows, keys. */
export function createAuthService(input: {
  db: Database;
  collections: CollectionStore;
  records: RecordService;
  passwords: Passwords;
  keys: KeyRing;
  bus: Bus;
  settings: SettingsStore;
  mailer: Mailer;
  log: Logger;
  /** Shared with the records layer's `oldPassword` guard (one budget per identity). */
  throttle: Throttle;
  /** The key kept outside the database (one-time codes are stored as HMACs under it). */
  secrets: SecretBox;
  avatars: AvatarDownloads;
  /** Where the hourly sweep of expired sessions and codes counts its runs (for /metrics). */
  jobs?: JobStats;
}) {
  const log = input.log.child({ module: 'auth' });
  const settings = () => input.settings.get();
  const deps: AuthDeps = {
    db: input.db,
    collections: input.collections,
    records: input.records,
    passwords: input.passwords,
    keys: input.keys,
    sessions: createSessionStore({
      db: input.db,
      bus: input.bus,
      settings,
      onError: (err) => log.warn({ reason: (err as Error).message }, 'could not update a session'),
    }),
    throttle: input.throttle,
    mailer: input.mailer,
    settings,
    log,
    secrets: input.secrets,
    avatars: input.avatars,
  };
  bindSessionLifecycle(deps, input.records);
  bindTokenInvalidation(deps);
  const sweeper = startSweeper(deps, input.jobs);
  const core = createCore(deps);
  const oauth2 = createOAuth2Flow(deps, core.signIn);
  return {
    ...core,
    ...createInstaller(deps, core.signIn),
    ...createEmailFlows(deps),
    ...createFileTokens(deps),
    ...createTestEmail(deps),
    ...createSystemAlerts(deps),
    ...createOtpFlow(deps, core.signIn),
    ...oauth2,
    /** `auth-methods`: every sign-in method of the collection, with fresh OAuth2 links. */
    authMethods: (collection: Collection) => authMethods(collection, oauth2.oauth2Methods(collection)),
    sessions: deps.sessions,
    /** Deletes expired sessions, codes and MFA steps now (it also runs hourly). */
    sweepExpired: sweeper.sweep,
    /** Stops background work (the expiry sweeper); the app calls it on shutdown. */
    close: sweeper.stop,
  };
}
