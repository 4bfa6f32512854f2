/**
 * Date.now(), read at most once per 64 calls and never reused past the current turn of the event
 * loop: it costs as much as an in-memory send, and expiry is counted in seconds.
 */
let cached = 0;
let callsLeft = 0;
let invalidationPending = false;

function invalidate(): void {
  callsLeft = 0;
  invalidationPending = false;
}

export function coarseNow(): number {
  if (callsLeft > 0) {
    callsLeft--;
    return cached;
  }
  cached = Date.now();
  callsLeft = 63;
  if (!invalidationPending) {
    invalidationPending = true;
    setImmediate(invalidate).unref();
  }
  return cached;
}
