/**
 * Entry point "rxllm/testing": virtual-time fakes and helpers for testing pipelines.
 *
 * @module rxllm/testing
 */
export {
  scriptedTransport,
  type ScriptedTransport,
  type ScriptedTransportConfig,
  type Scripts,
  type RecordedRequest,
  type RecordedOutcome,
  type SubscriptionFrames,
} from './scriptedTransport.js';
export { textScript, type Script, type ScriptStep, type TokenScript, type MarbleScript, type TextScriptConfig } from './script.js';
export { runInVirtualTime, type VirtualRun, type RunInVirtualTimeConfig, type VirtualTimeHelpers, type Emission } from './runInVirtualTime.js';
export {
  textEvent,
  reasoningEvent,
  refusalEvent,
  toolCallEvent,
  usageEvent,
  finishEvent,
  type EventChoice,
  type ToolCallFragment,
  type UsageCounts,
} from './events.js';
