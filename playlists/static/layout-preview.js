// The layout preview page: fit the stage to the window and start its widgets.
Signage.fit(document.getElementById("stage"));
Signage.widgets.start(document);
