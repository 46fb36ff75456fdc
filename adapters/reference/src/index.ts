/** `@bookbroker/adapter-reference`: plugs sellers speaking the reference seller API into bookbroker. */
export { ReferenceConfig, referenceAdapter } from "./ReferenceAdapter.js"
