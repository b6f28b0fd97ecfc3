/* Entry point "rxllm/openai": transports over the official openai SDK (an optional peer dependency). */
export { openaiTransport, type OpenAITransportConfig } from './openaiTransport.js';
