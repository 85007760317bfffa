/**
 * Cooperative turns of the event loop (issue 27). A request that builds a big response (a page of
 * 100 members with their users, 15 times over) runs as one block of JavaScript once its data is
 * in memory: nothing else (another user's `{ me { id } }`, /healthz, a SIGTERM handler) runs until
 * it ends. `nextTurn()` resolves its waiters one per loop iteration (setImmediate, so the poll
 * phase, where sockets and signals are read, comes between two of them): a resolver that awaits it
 * before returning a long list lets everything else waiting take its turn first.
 */
const waiting: (() => void)[] = [];
let scheduled = false;

function pump(): void {
  waiting.shift()?.();
  if (waiting.length) setImmediate(pump);
  else scheduled = false;
}

/** Resolves on a later turn of the event loop, after the waiters before it, one waiter per turn. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(pump);
    }
  });
}
