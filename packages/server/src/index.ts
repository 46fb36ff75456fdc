/** `@bookbroker/server`: the HTTP API over the engine. */
export * as Api from "./Api.js"
export * as Problem from "./Problem.js"
export * as Server from "./Server.js"
export { Settings, type ServerSettings } from "./Config.js"
