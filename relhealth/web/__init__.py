"""The UI shell: layout, navigation, error pages, local static assets."""
