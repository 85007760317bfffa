import 'reflect-metadata';
import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfigOrExit } from './config/config';
import { closeDatabase, openDatabase } from './db/orm';
import type { Actor, Scope } from './domain/shared/actor';
import { User } from './domain/user/user.entity';
import { InMemoryEventBus } from './realtime/state/event-bus';
import { createLiveState } from './realtime/state';
import { createServices, type Services } from './services';

/** The password of every demo account. */
export const DEMO_PASSWORD = 'chatpass123';

/** The demo accounts; dave is made staff after registering. */
const DEMO_USERS = [
  { username: 'alice', firstName: 'Alice', lastName: 'Anderson', email: 'alice@example.com' },
  { username: 'bob', firstName: 'Bob', lastName: 'Brown', email: 'bob@example.com' },
  { username: 'carol', firstName: 'Carol', lastName: 'Clark', email: 'carol@example.com' },
  { username: 'dave', firstName: 'Dave', lastName: 'Davis', email: 'dave@example.com' },
] as const;

type DemoName = (typeof DEMO_USERS)[number]['username'];

/** What {@link seed} did: `created` is false when the demo data was already there. */
export interface SeedResult {
  created: boolean;
  lines: string[];
}

/**
 * Creates the demo data through the domain services: four users, a DIRECT chat (alice↔bob,
 * with a reply), a GROUP "Weekend trip", a PUBLIC ROOM "General" and carol's SUPPORT thread
 * answered by dave (staff). Idempotent: does nothing when the user "alice" already exists.
 */
export async function seed(services: Services, rootEm: EntityManager): Promise<SeedResult> {
  if (await rootEm.fork().findOne(User, { usernameKey: 'alice' })) {
    return { created: false, lines: ['Demo data already present (user "alice" exists); nothing to do.'] };
  }
  const lines: string[] = [];
  const actors = {} as Record<DemoName, Actor>;
  for (const u of DEMO_USERS) {
    const { user } = await services.auth.register(rootEm.fork(), { ...u, password: DEMO_PASSWORD });
    actors[u.username] = { id: user.id, username: user.username, isStaff: false };
  }
  await rootEm.fork().nativeUpdate(User, { id: actors.dave.id }, { isStaff: true });
  actors.dave.isStaff = true;
  lines.push(`Users: ${DEMO_USERS.map((u) => `${u.username} (id ${actors[u.username].id})`).join(', ')}; dave is staff`);

  const as = (name: DemoName): Scope => ({ actor: actors[name], em: rootEm.fork() });
  const say = (name: DemoName, conversationId: number, content: string, replyToId?: number) =>
    services.messages.send(as(name), { conversationId, content, replyToId: replyToId ?? null });

  const bobUser = await as('alice').em.findOneOrFail(User, { id: actors.bob.id });
  const { conversation: direct } = await services.conversations.openDirect(as('alice'), bobUser);
  const question = await say('alice', direct.id, 'Hi Bob! Are you coming to the meetup on Thursday?');
  await say('bob', direct.id, 'Yes, I will be there around 7.', question.id);
  await say('alice', direct.id, 'Great, see you then!');
  lines.push(`DIRECT alice <-> bob (id ${direct.id}): 3 messages, one a reply`);

  const group = await services.conversations.createGroup(as('alice'), {
    name: 'Weekend trip',
    description: 'Planning the hike on Saturday',
    memberIds: [actors.bob.id, actors.carol.id],
  });
  const plan = await say('alice', group.id, 'Trail starts at 9am, meet at the parking lot.');
  await say('carol', group.id, 'I can drive two people.', plan.id);
  await say('bob', group.id, 'I will bring snacks.');
  lines.push(`GROUP "Weekend trip" (id ${group.id}): owner alice, members bob and carol, 3 messages`);

  const room = await services.conversations.createRoom(as('alice'), {
    name: 'General',
    description: 'Everyone is welcome',
  });
  await services.memberships.joinRoom(as('bob'), String(room.id));
  await services.memberships.joinRoom(as('carol'), String(room.id));
  await say('alice', room.id, 'Welcome to the General room!');
  await say('bob', room.id, 'Hello everyone.');
  await say('carol', room.id, 'Hi all!');
  lines.push(`PUBLIC ROOM "General" (id ${room.id}): owner alice, bob and carol joined, 3 messages`);

  const support = (await services.conversations.supportThread(as('carol')))!;
  const ask = await say('carol', support.id, 'Hello, I cannot upload a profile picture. Can you help?');
  await say('dave', support.id, 'Hi Carol, we are looking into it and will get back to you shortly.', ask.id);
  lines.push(`SUPPORT thread of carol (id ${support.id}): carol asks, dave (staff) answers`);
  return { created: true, lines };
}

/** `npm run seed`: opens the configured database (migrating it), seeds the demo data, closes. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const orm = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const bus = new InMemoryEventBus();
  try {
    const services = createServices(config, bus, orm.em, { live: (events, touch) => createLiveState(config, events, {}, touch) });
    const where = config.databaseUrl ? 'PostgreSQL' : `PGlite (${config.dataDir})`;
    const result = await seed(services, orm.em);
    console.log(result.created ? `Seeded demo data into ${where}:` : `Database: ${where}`);
    for (const line of result.lines) console.log(`  ${line}`);
    console.log(`Log in as alice, bob, carol or dave (staff) with password "${DEMO_PASSWORD}".`);
  } finally {
    await bus.close();
    await closeDatabase(orm);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error('Seeding failed:', err);
    process.exit(1);
  });
}
