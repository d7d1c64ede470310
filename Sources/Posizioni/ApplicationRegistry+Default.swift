// The shipped application registry: the sections and GDP services the seeds list (DOMAIN.md,
// guide 003). Kept equal to `config/applications.json` (a test checks it), the file an
// operator copies and passes to `cassetto-server --applications`.
extension ApplicationRegistry {
  public static let defaultJSON = #"""
{
  "sections": [
    { "id": "contatti", "title": "Contatti" },
    { "id": "dati-sintetici", "title": "Dati sintetici" },
    { "id": "dati-di-dettaglio", "title": "Dati di dettaglio" },
    { "id": "dati-complementari", "title": "Dati complementari" },
    { "id": "evidenze", "title": "Evidenze" },
    { "id": "servizi-gdp", "title": "Servizi GDP" },
    { "id": "prospetto-anzianita", "title": "Prospetto anzianità contributiva" }
  ],
  "applications": [
    {
      "id": "com-bidirezionale", "section": "contatti", "title": "Com. Bidirezionale",
      "target": "/cassetto.ticketing.v1.Ticketing/CreateRichiesta",
      "roles": ["owner", "delegate", "subdelegate"]
    },
    {
      "id": "dati-sintetici", "section": "dati-sintetici", "title": "Dati sintetici",
      "target": "/cassetto.posizioni.v1.Posizioni/GetDatiSintetici",
      "roles": ["owner", "delegate", "subdelegate", "operator", "service"]
    },
    {
      "id": "anagrafica-posizione", "section": "dati-di-dettaglio", "title": "Anagrafica posizione",
      "target": "/cassetto.posizioni.v1.Posizioni/GetPosizione",
      "roles": ["owner", "delegate", "subdelegate", "operator", "service"]
    },
    {
      "id": "versamenti-f24", "section": "dati-di-dettaglio", "title": "Versamenti F24",
      "target": "/cassetto.posizioni.v1.Posizioni/ListVersamenti",
      "funds": ["FUND_PRIVATI_UNIEMENS", "FUND_GESTIONE_SEPARATA", "FUND_AGRICOLI"],
      "scopes": ["SCOPE_CONTRIBUZIONE_PRIVATI"],
      "roles": ["owner", "delegate", "subdelegate", "operator", "service"]
    },
    {
      "id": "denunce-uniemens", "section": "dati-di-dettaglio", "title": "Denunce UniEmens",
      "target": "/cassetto.posizioni.v1.Posizioni/ListDenunce",
      "funds": ["FUND_PRIVATI_UNIEMENS", "FUND_AGRICOLI"],
      "scopes": ["SCOPE_CONTRIBUZIONE_PRIVATI"],
      "roles": ["owner", "delegate", "subdelegate", "operator", "service"]
    },
    {
      "id": "fascicolo-aziendale", "section": "dati-complementari", "title": "Fascicolo aziendale",
      "target": "/cassetto.posizioni.v1.Posizioni/ExportFascicolo",
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "evidenze", "section": "evidenze", "title": "Evidenze",
      "target": "/cassetto.posizioni.v1.Posizioni/ListEvidenze",
      "roles": ["owner", "delegate", "subdelegate", "operator", "service"]
    },
    {
      "id": "visualizza-versamenti", "section": "servizi-gdp", "title": "Visualizza Versamenti",
      "target": "/cassetto.posizioni.v1.Posizioni/ListVersamenti",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "invio-circ-38", "section": "servizi-gdp", "title": "Invio Circ.38",
      "target": "/cassetto.posizioni.v1.Posizioni/UploadTracciato",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate"]
    },
    {
      "id": "gest-note-debito", "section": "servizi-gdp", "title": "Gest. Note Debito",
      "target": "/cassetto.posizioni.v1.Posizioni/ListNoteDebito",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "gest-note-debito-eca", "section": "servizi-gdp", "title": "Gest. Note Debito ECA",
      "target": "/cassetto.posizioni.v1.Posizioni/ComputeSanzioniECA",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "visualizza-piani-ammortamento", "section": "servizi-gdp",
      "title": "Visualizza Piani ammort.",
      "target": "/cassetto.posizioni.v1.Posizioni/ListPianiAmmortamento",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "visualizza-dma", "section": "servizi-gdp", "title": "Visualizza DMA",
      "target": "/cassetto.posizioni.v1.Posizioni/ListDenunce",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "compila-dma", "section": "servizi-gdp", "title": "Compila DMA (ListaPosPA)",
      "target": "/cassetto.posizioni.v1.Posizioni/SubmitDenunciaManuale",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate"]
    },
    {
      "id": "note-rettifica", "section": "servizi-gdp", "title": "Note di rettifica",
      "target": "/cassetto.posizioni.v1.Posizioni/ListNoteRettifica",
      "funds": ["FUND_PUBBLICI_GDP"], "scopes": ["SCOPE_CONTRIBUZIONE_PUBBLICI"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    },
    {
      "id": "prospetto-anzianita", "section": "prospetto-anzianita",
      "title": "Prospetto anzianità contributiva",
      "target": "https://servizi.cassetto.invalid/prospetto-anzianita-contributiva",
      "funds": ["FUND_PUBBLICI_GDP"],
      "roles": ["owner", "delegate", "subdelegate", "operator"]
    }
  ]
}
"""#
}
