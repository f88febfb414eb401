from django.apps import AppConfig


class EsfcaConfig(AppConfig):
    name = "esfca"
    verbose_name = "ESFCA"
