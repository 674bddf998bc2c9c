"""Spot interruptions: EventBridge events from every Region, through one SQS queue, to actions
(checkpoint, mark capacity unavailable, place it again, complete lifecycle actions)."""
