/** A failed call said where the analyst looks (announced to screen readers); nothing when none. */
export function ErrorNote({ error }: { error: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}
