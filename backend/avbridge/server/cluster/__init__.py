"""Scale-out: one front door for engines, sessions on Ray actors (`avbridge serve --cluster`)."""
