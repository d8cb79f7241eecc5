"""Take files a person or a DCC tool can open: reading and writing Live Link Face CSVs, wav,
events and plots, and the curves `avbridge inspect` draws."""
