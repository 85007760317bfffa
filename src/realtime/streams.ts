/**
 * Filters an async iterator with an async predicate. Unlike an async generator, `return()`
 * reaches the source at once even while a `next()` is pending, so a client that unsubscribes
 * frees its bus listener immediately.
 */
export function filterStream<T>(source: AsyncIterableIterator<T>, keep: (item: T) => Promise<boolean> | boolean): AsyncIterableIterator<T> {
  return {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        const r = await source.next();
        if (r.done) return r;
        if (await keep(r.value)) return r;
      }
    },
    return(): Promise<IteratorResult<T>> {
      return source.return ? source.return() : Promise.resolve({ value: undefined, done: true });
    },
    throw(err?: unknown): Promise<IteratorResult<T>> {
      return source.throw ? source.throw(err) : Promise.reject(err);
    },
    [Symbol.asyncIterator]() { return this; },
  };
}
