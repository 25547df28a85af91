"""``genesis demo``: a drifted app on emulated Render, Netlify and GitHub, healed end to end."""
