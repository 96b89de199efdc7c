"""The meeting's own page (SPEC B7, issue 15): who comes, materials before, minutes after."""
