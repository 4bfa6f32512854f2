export { containerRuntimeAnswers } from "./containers.js";
export { freePort } from "./free-port.js";
export { hasLocalBinary } from "./local-servers.js";
export { type ServerCommand, ServerProcess } from "./server-process.js";
export {
  type Service,
  type ServiceKind,
  type StartServiceOptions,
  servicesRequired,
  startLocalServer,
  startService,
} from "./service.js";
export { portAnswers, probeTcp, waitFor } from "./wait-for.js";
