/** Listeners of the client's events; one that throws cannot stop the others or the client. */
export class Listeners<Events extends { [event: string]: unknown[] }> {
  private readonly sets: { [E in keyof Events]?: Set<(...args: Events[E]) => void> } = {};

  /** Returns the function that removes the listener. */
  add<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    const set = (this.sets[event] ??= new Set());
    set.add(listener);
    return () => void set.delete(listener);
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const listener of this.sets[event] ?? []) {
      try {
        listener(...args);
      } catch {
        // A listener that throws has nowhere to report to; the others still run.
      }
    }
  }
}
