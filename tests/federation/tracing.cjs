// OpenTelemetry for the gateway, as a Node service would set it up: loaded first with
// `node --require ./tracing.cjs gateway.mjs`. The SDK's provider (W3C trace context, async
// context) and the http instrumentation: the gateway's server span continues an incoming
// traceparent, and its calls to subgraphs carry one. Spans are recorded, not exported.
const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { registerInstrumentations } = require("@opentelemetry/instrumentation");
const { HttpInstrumentation } = require("@opentelemetry/instrumentation-http");

const provider = new NodeTracerProvider();
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
