/**
 * Creates each JetStream stream at most once per instance: the first call starts the creation and
 * later calls share its promise, a failed creation is forgotten so the next call tries again, and
 * `again` recreates a stream the server lost (deleted, or a restart without its store).
 */
export class StreamsOnce {
  private readonly creations = new Map<string, Promise<void>>();

  /** `limit`: how many names to remember; past it the memory starts over (recreating is harmless). */
  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  ensure(name: string, create: () => Promise<void>, again = false): Promise<void> {
    let creation = this.creations.get(name);
    if (creation === undefined || again) {
      if (this.creations.size >= this.limit) this.creations.clear();
      const started = create();
      started.catch(() => {
        if (this.creations.get(name) === started) this.creations.delete(name);
      });
      this.creations.set(name, started);
      creation = started;
    }
    return creation;
  }
}
