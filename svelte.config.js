// Svelte 5 compiles `<script lang="ts">` natively (type annotations only), so no preprocessor is needed.
export default {};
