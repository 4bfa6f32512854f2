export {
  LiveWebsocketCommunicator,
  type LiveWebsocketCommunicatorOptions,
} from "./live-websocket-communicator.js";
export {
  type ConnectResult,
  type Frame,
  WebsocketCommunicator,
  type WebsocketCommunicatorOptions,
} from "./websocket-communicator.js";
