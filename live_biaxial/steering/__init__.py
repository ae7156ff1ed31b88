"""How the model is played and steered: the live controls and their CC map, the chord it follows and the
harmony control, the generation loop with anti-silence. Built on music/ (the note format), used by engine/, cli/
and the console."""
