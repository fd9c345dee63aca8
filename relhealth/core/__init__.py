"""Cross-cutting helpers that import no domain package."""
