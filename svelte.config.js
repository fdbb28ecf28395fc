// Svelte 5 with runes everywhere; read by vite-plugin-svelte and svelte-check.
export default { compilerOptions: { runes: true } };
