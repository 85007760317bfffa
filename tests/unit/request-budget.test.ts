/**
 * RequestBudget (issue 27): one user's operations at once and query cost per second, refused with
 * RATE_LIMITED and retryAfter; another user's budget is their own; a refused charge spends nothing.
 * (Through real servers: tests/integration/security/list-bounds.test.ts.)
 */
import { RateLimitedError } from '../../src/domain/shared/rate-limit';
import { RequestBudget } from '../../src/security/request-budget';

test('at most maxInFlight operations at once per user; a release frees a place', async () => {
  const budget = new RequestBudget({ maxInFlight: 2, costPerSec: 1_000_000 }, 1000);
  const a = await budget.enter(1);
  await budget.enter(1);
  await expect(budget.enter(1)).rejects.toBeInstanceOf(RateLimitedError);
  await expect(budget.enter(2)).resolves.toEqual(expect.any(Function));
  a();
  a(); // idempotent
  const again = await budget.admit(1, 10);
  expect(typeof again).toBe('function');
  await expect(budget.admit(1, 10)).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterSec: 1 });
});

test("cost per second: charges past the second's budget are refused with retryAfter and spend nothing", async () => {
  const budget = new RequestBudget({ maxInFlight: 100, costPerSec: 16000 }, 10000);
  await budget.charge(1, 7515);
  await budget.charge(1, 7515);
  const refused = await budget.charge(1, 7515).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(RateLimitedError);
  expect((refused as RateLimitedError).retryAfterSec).toBeGreaterThanOrEqual(1);
  await budget.charge(1, 900); // the refusal spent nothing: 15030 + 900 <= 16000
  await budget.charge(2, 7515); // another user
  // An admit refused by cost does not keep its place among the operations at once.
  await expect(budget.admit(1, 7515)).rejects.toBeInstanceOf(RateLimitedError);
  expect(budget.refused).toBe(2);
});

test('the budget per second is never below GRAPHQL_MAX_COST: one document at the limit always fits an idle budget', async () => {
  const budget = new RequestBudget({ maxInFlight: 8, costPerSec: 100 }, 5000);
  await budget.charge(1, 5000);
  await expect(budget.charge(1, 1)).rejects.toBeInstanceOf(RateLimitedError);
});

test('only operations costing at least heavyCost count toward maxInFlight: cheap ones (an outbox of sends) pass at once', async () => {
  const budget = new RequestBudget({ maxInFlight: 2, costPerSec: 1_000_000, heavyCost: 1000 }, 1000);
  const heavy = [await budget.admit(1, 5000), await budget.admit(1, 1000)];
  await expect(budget.admit(1, 1000)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  // 30 cheap operations while the heavy places are taken: none is refused, none takes a place.
  const cheap = await Promise.all(Array.from({ length: 30 }, () => budget.admit(1, 12)));
  expect(cheap).toHaveLength(30);
  heavy[0]();
  await expect(budget.admit(1, 5000)).resolves.toEqual(expect.any(Function));
});

test('a user refused 50 times within a second is flooding for the next second, and only that user', () => {
  const budget = new RequestBudget({ maxInFlight: 1, costPerSec: 1_000_000 }, 1000);
  const t0 = 1_000_000;
  for (let i = 0; i < 49; i++) budget.noteRefusal(7, t0 + i);
  expect(budget.flooding(7, t0 + 49)).toBe(false);
  budget.noteRefusal(7, t0 + 50);
  expect(budget.flooding(7, t0 + 51)).toBe(true);
  expect(budget.flooding(8, t0 + 51)).toBe(false);
  // Refusals spread over more than a second never add up to a flood.
  for (let i = 0; i < 100; i++) budget.noteRefusal(9, t0 + i * 25);
  expect(budget.flooding(9, t0 + 100 * 25)).toBe(false);
  // A flooder that keeps resending stays flooding; one that pauses a second is admitted again.
  for (let i = 0; i < 60; i++) budget.noteRefusal(7, t0 + 900 + i * 5);
  expect(budget.flooding(7, t0 + 1500)).toBe(true);
  expect(budget.flooding(7, t0 + 900 + 295 + 1000)).toBe(false);
  expect(budget.refused).toBe(49 + 1 + 100 + 60);
});

test('of maxInFlight heavy operations, `concurrency` run at once and the others wait their turn in order; past maxInFlight: refused', async () => {
  const budget = new RequestBudget({ maxInFlight: 4, costPerSec: 1_000_000, concurrency: 2 }, 1000);
  const order: string[] = [];
  const track = (name: string, p: Promise<() => void>) => p.then((release) => (order.push(name), release));
  const [a, b] = await Promise.all([track('a', budget.enter(1)), track('b', budget.enter(1))]);
  const c = track('c', budget.enter(1));
  const d = track('d', budget.enter(1));
  await expect(budget.enter(1)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  await new Promise((r) => setImmediate(r));
  expect(order).toEqual(['a', 'b']); // c and d wait
  b();
  b(); // idempotent: lets only one through
  const releaseC = await c;
  await new Promise((r) => setImmediate(r));
  expect(order).toEqual(['a', 'b', 'c']);
  a();
  const releaseD = await d;
  expect(order).toEqual(['a', 'b', 'c', 'd']);
  // Another user runs regardless.
  (await budget.enter(2))();
  releaseC();
  releaseD();
  // All released: two run at once again without waiting.
  const [e, f] = await Promise.all([budget.enter(1), budget.enter(1)]);
  e();
  f();
});
