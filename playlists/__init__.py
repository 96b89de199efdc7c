"""What plays: layouts (screens made of regions), playlists, schedules, publishing (SPEC A3–A6)."""
