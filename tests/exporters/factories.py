"""Factories for banks, firms and users (factory-boy, reseeded Faker)."""

import factory
import factory.random
from factory.django import DjangoModelFactory

from exporters.models import Bank, Firm, User

factory.random.reseed_random("esfca")


class BankFactory(DjangoModelFactory):
    class Meta:
        model = Bank
        django_get_or_create = ("code",)

    # Four letters, like the bank code inside a Pakistani IBAN.
    code = factory.Sequence(lambda n: "".join(chr(65 + (n // 26**i) % 26) for i in (3, 2, 1, 0)))
    name = factory.Faker("company")


class FirmFactory(DjangoModelFactory):
    class Meta:
        model = Firm

    name = factory.Faker("company")
    ntn = factory.Sequence(lambda n: f"{1000000 + n:07d}-{n % 10}")
    kind = Firm.Kind.IT_COMPANY
    registration_body = Firm.RegistrationBody.PSEB
    registration_number = factory.Sequence(lambda n: f"PSEB/{n:05d}")
    active_taxpayer = True


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")
