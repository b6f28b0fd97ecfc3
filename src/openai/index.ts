/**
 * Entry point "rxllm/openai": transports over the official openai SDK (an optional peer dependency).
 *
 * @module rxllm/openai
 */
export { openaiTransport, type OpenAITransportConfig } from './openaiTransport.js';
