/**
 * The application-level heartbeat of @channel-layers/client. Browsers cannot send WebSocket ping
 * frames, so the client sends this exact text frame and the server answers it before the frame
 * reaches the application: a consumer never sees heartbeats, and a JSON consumer never has to
 * know the reserved type.
 */
export const HEARTBEAT_PING = '{"type":"channel_layers.ping"}';
export const HEARTBEAT_PONG = '{"type":"channel_layers.pong"}';

/**
 * The reply to an inbound text frame when it is a heartbeat ping, else undefined (the frame is
 * the application's). An exact comparison, so every other frame costs one length check.
 */
export function heartbeatReply(text: string): string | undefined {
  return text === HEARTBEAT_PING ? HEARTBEAT_PONG : undefined;
}
