"""Evaluates the automation conditions of the recommendation and monitoring groups: their day
runs once the day's model is published, not at a fixed hour."""

import dagster as dg

model_followers_automation = dg.AutomationConditionSensorDefinition(
    "model_followers_automation",
    target=dg.AssetSelection.groups("recommendation", "monitoring"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Runs the recommendation and monitoring assets of a day once its similarity_model is published.",
)
