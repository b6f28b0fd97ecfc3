/** The option every event operator takes: which choice to read when `n > 1`. */
export interface ChoiceConfig {
  /** Choice index to read. @defaultValue 0 */
  choice?: number;
}
