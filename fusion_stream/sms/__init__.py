"""SMS helpers: GSM-7/UCS-2 segment counting and phone-number normalisation."""
