import type { DomainEvent, DomainEventType } from '../../domain/shared/events';
import type { EventBus } from '../../domain/shared/live-state';

export type { EventBus };

type Handler = (event: DomainEvent) => void;

const keyOf = (type: string, routingKey?: number) => (routingKey == null ? type : `${type}:${routingKey}`);

/** Delivers events to listeners of this process (one instance; Redis carries them between instances). */
export class InMemoryEventBus implements EventBus {
  private readonly listeners = new Map<string, Set<Handler>>();

  publish(event: DomainEvent): void {
    this.dispatch(event);
  }

  /** Hands an event to this process's listeners; a throwing listener does not stop the others. */
  protected dispatch(event: DomainEvent): void {
    const keys: string[] = [event.type];
    if ('conversationId' in event) keys.push(keyOf(event.type, event.conversationId));
    else if ('recipientId' in event) keys.push(keyOf(event.type, event.recipientId));
    for (const key of keys) {
      const set = this.listeners.get(key);
      if (!set) continue;
      for (const h of [...set]) {
        try {
          h(event);
        } catch {
          /* a listener's failure is its own */
        }
      }
    }
  }

  on(type: DomainEventType, handler: Handler, routingKey?: number): () => void {
    const key = keyOf(type, routingKey);
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(handler);
    return () => {
      set!.delete(handler);
      if (set!.size === 0) this.listeners.delete(key);
    };
  }

  /** Number of registered listeners (for tests and metrics). */
  listenerCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  healthy(): boolean {
    return true;
  }

  protected readonly resyncHandlers = new Set<(downSinceMs: number) => void>();

  onResync(handler: (downSinceMs: number) => void): () => void {
    this.resyncHandlers.add(handler);
    return () => {
      this.resyncHandlers.delete(handler);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
