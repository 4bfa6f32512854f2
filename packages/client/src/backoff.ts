/** The reconnect schedule: see ClientOptions for what each field means. */
export interface BackoffOptions {
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  reconnectFactor: number;
  reconnectJitter: number;
}

/**
 * How long to wait before reconnect attempt `attempt` (1 for the first): the delay grows by
 * `reconnectFactor` per attempt up to `maxReconnectDelayMs`, and jitter takes a random share of it
 * off, so clients dropped together by one server restart do not all come back in the same instant.
 */
export function reconnectDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const { reconnectDelayMs, maxReconnectDelayMs, reconnectFactor, reconnectJitter } = options;
  // 0 * Infinity is NaN: a zero first delay stays zero however large the exponent gets.
  const grown = reconnectDelayMs === 0 ? 0 : reconnectDelayMs * reconnectFactor ** Math.max(0, attempt - 1);
  const capped = Math.min(maxReconnectDelayMs, grown);
  return Math.round(capped * (1 - reconnectJitter * random()));
}
