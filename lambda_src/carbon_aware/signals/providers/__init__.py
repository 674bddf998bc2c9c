"""Carbon-data providers: live APIs (Electricity Maps, WattTime, UK NESO) and local estimators."""
