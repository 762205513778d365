/**
 * Why `name` is not a valid branch name, or undefined when it is: the rules of
 * `git check-ref-format --branch` (git-check-ref-format(1)), checked without running git
 * so bad input is refused before anything touches a repository.
 */
export function branchNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 200) return 'is longer than 200 characters';
  if (name.startsWith('-')) return "starts with '-'";
  if (name === '@') return "is '@'";
  if (name.startsWith('/') || name.endsWith('/')) return "starts or ends with '/'";
  if (name.endsWith('.')) return "ends with '.'";
  if (name.includes('..')) return "contains '..'";
  if (name.includes('//')) return "contains '//'";
  if (name.includes('@{')) return "contains '@{'";
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'contains a space, control character or one of ~ ^ : ? * [ \\';
  // Valid to git, but mistakes: `refs/heads/x` would make a branch named refs/heads/refs/heads/x,
  // and invisible direction overrides make a name read as another.
  if (name.startsWith('refs/')) return "starts with 'refs/' (give the short name: x, not refs/heads/x)";
  if (/[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/.test(name)) return 'contains an invisible or bidirectional control character';
  for (const component of name.split('/')) {
    if (component.startsWith('.')) return "has a component starting with '.'";
    if (component.endsWith('.lock')) return "has a component ending with '.lock'";
  }
  return undefined;
}
