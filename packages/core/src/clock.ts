/**
 * Milliseconds since the epoch, read from Date.now() at most once per 64 calls and never reused
 * past the current turn of the event loop. Date.now() costs about as much as the rest of an
 * in-memory send; expiry is counted in seconds, so a reading a few microseconds old is as good.
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
