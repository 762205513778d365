/**
 * Text from agents (titles, branch names, paths, git's and people's messages) is shown to a
 * terminal: a control or escape sequence in it could move the cursor, rewrite the screen or
 * reorder what is read. Every C0 control but newline and tab, DEL, every C1 control, and the
 * bidirectional overrides and isolates are shown as visible escapes instead. JSON output is
 * left exact: its readers are programs.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
