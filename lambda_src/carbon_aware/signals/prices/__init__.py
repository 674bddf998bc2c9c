"""Price and capacity sources for spot fleets and the planner: EC2 spot price history, the AWS
Price List (on-demand EC2, Fargate, Fargate Spot) and spot placement scores (with a daily budget),
each cached in the signals table (:mod:`.store`)."""
