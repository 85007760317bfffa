import 'reflect-metadata';
import { parseArgs } from 'node:util';
import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfigOrExit } from './config/config';
import { closeDatabase, openDatabase } from './db/orm';
import { AuthService } from './domain/auth/auth.service';
import { DomainError } from './domain/shared/errors';
import type { User } from './domain/user/user.entity';

const USAGE =
  'usage: npm run create-user -- --username <name> --password <password> [--staff] [--first-name <f>] [--last-name <l>] [--email <e>]' +
  ' [--role <r>] [--score <n>] [--rank <r>] [--in-game-id <id>]...';

/** What `npm run create-user` was asked for. */
export interface CreateUserArgs {
  username: string;
  password: string;
  staff: boolean;
  firstName?: string;
  lastName?: string;
  email?: string;
  /** Issue 28 item 9 (seed 004's attributes, as `setUserAttributes` sets them): absent when not given. */
  role?: string;
  score?: number;
  rank?: string;
  inGameIds?: string[];
}

/** The options of `npm run create-user`, parsed from argv. @throws Error with the usage line on bad arguments. */
export function parseCreateUserArgs(argv: string[]): CreateUserArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        username: { type: 'string' },
        password: { type: 'string' },
        staff: { type: 'boolean', default: false },
        'first-name': { type: 'string' },
        'last-name': { type: 'string' },
        email: { type: 'string' },
        role: { type: 'string' },
        score: { type: 'string' },
        rank: { type: 'string' },
        'in-game-id': { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`, { cause: err });
  }
  if (!values.username || !values.password) throw new Error(`--username and --password are required\n${USAGE}`);
  if (values.score !== undefined && !/^-?\d{1,10}$/.test(values.score)) throw new Error(`--score must be an integer\n${USAGE}`);
  return {
    username: values.username,
    password: values.password,
    staff: Boolean(values.staff),
    firstName: values['first-name'],
    lastName: values['last-name'],
    email: values.email,
    role: values.role,
    score: values.score === undefined ? undefined : Number(values.score),
    rank: values.rank,
    inGameIds: values['in-game-id'],
  };
}

/**
 * Creates a user from `npm run create-user` arguments (staff with `--staff`: besides
 * `setUserStaff`, the only way to get one; seed 004 staff accounts), with seed 004's attributes
 * (`--role`, `--score`, `--rank`, `--in-game-id` repeated; the rules of `setUserAttributes`). Same validation as `register`.
 * @throws Error with the usage line on bad arguments; DomainError BAD_USER_INPUT (invalid fields), CONFLICT (username taken).
 */
export async function createUserFromArgs(auth: AuthService, em: EntityManager, argv: string[]): Promise<User> {
  const o = parseCreateUserArgs(argv);
  return auth.createUser(em, { username: o.username, password: o.password, firstName: o.firstName, lastName: o.lastName, email: o.email }, o.staff, {
    role: o.role,
    score: o.score,
    rank: o.rank,
    inGameIds: o.inGameIds,
  });
}

/** `npm run create-user -- ...`: opens the configured database (migrating it), creates the user, closes. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const argv = process.argv.slice(2);
  try {
    parseCreateUserArgs(argv);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const auth = new AuthService({
    jwtSecret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtlSec: config.accessTokenTtlSec,
    refreshTokenTtlSec: config.refreshTokenTtlSec,
  });
  const orm = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const user = await createUserFromArgs(auth, orm.em.fork(), argv);
    console.log(`Created user ${user.username} (id ${user.id})${user.isStaff ? ', staff' : ''}.`);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    console.error(`${err.code}: ${err.message}`);
    process.exitCode = 1;
  } finally {
    await closeDatabase(orm);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error('create-user failed:', err);
    process.exit(1);
  });
}
