import factory
from factory.django import DjangoModelFactory

from leads import canonical
from leads.models import Company, Lead, LeadList, ListMembership
from tests.factories import WorkspaceFactory


class CompanyFactory(DjangoModelFactory):
    class Meta:
        model = Company

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"company{n}.example.com")


class LeadFactory(DjangoModelFactory):
    """A person identified by LinkedIn; pass `linkedin_url=None` (and an email, or a domain) for
    the other identities. `identity_key` follows leads.canonical like the importer does."""

    class Meta:
        model = Lead

    workspace = factory.SubFactory(WorkspaceFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    full_name = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}")
    title = factory.Faker("job")
    company_name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"firm{n}.example.com")
    location = factory.Faker("city")
    linkedin_url = factory.Sequence(lambda n: f"https://www.linkedin.com/in/person-{n}")
    email = None
    phone = None
    identity_key = factory.LazyAttribute(
        lambda o: (
            canonical.person_identify(
                linkedin_url=o.linkedin_url,
                email=o.email,
                first_name=o.first_name,
                last_name=o.last_name,
                company_name=o.company_name,
                domain=o.domain,
            ).key
        )
    )


class LeadListFactory(DjangoModelFactory):
    class Meta:
        model = LeadList
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"List {n}")

    @factory.post_generation
    def lead_count(self, create, extracted, **kwargs):
        """`LeadListFactory(lead_count=5)` fills the list with five new leads."""
        if create and extracted:
            leads = LeadFactory.create_batch(extracted, workspace=self.workspace)
            ListMembership.objects.bulk_create(
                ListMembership(lead_list=self, lead=lead) for lead in leads
            )
