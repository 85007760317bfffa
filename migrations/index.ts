import { Migration20261121141636_initial } from './Migration20261121141636_initial';
import { Migration20261125183000_mentions } from './Migration20261125183000_mentions';
import { Migration20261202203000_message_actor } from './Migration20261202203000_message_actor';
import { Migration20261203140000_external_attachments } from './Migration20261203140000_external_attachments';
import { Migration20261203160000_user_avatar } from './Migration20261203160000_user_avatar';
import { Migration20261203170000_account_deletion } from './Migration20261203170000_account_deletion';
import { Migration20261207143000_archive_uploads_devices } from './Migration20261207143000_archive_uploads_devices';
import { Migration20261207144500_refresh_grace } from './Migration20261207144500_refresh_grace';
import { Migration20261207150000_privacy } from './Migration20261207150000_privacy';
import { Migration20261207153500_contact_pair } from './Migration20261207153500_contact_pair';
import { Migration20261207180000_reactions } from './Migration20261207180000_reactions';
import { Migration20261207181000_revisions_pins_forwarding } from './Migration20261207181000_revisions_pins_forwarding';
import { Migration20261207182000_search } from './Migration20261207182000_search';
import { Migration20261207183000_push_outbox } from './Migration20261207183000_push_outbox';
import { Migration20261207190000_webhooks } from './Migration20261207190000_webhooks';
import { Migration20261207200000_threads } from './Migration20261207200000_threads';

/** Every migration, in order. A new migration file is added here too (see docs/development.md, "Migrations"). */
export const migrationsList: { name: string; class: new (...args: any[]) => any }[] = [
  { name: 'Migration20261121141636_initial', class: Migration20261121141636_initial },
  { name: 'Migration20261125183000_mentions', class: Migration20261125183000_mentions },
  { name: 'Migration20261202203000_message_actor', class: Migration20261202203000_message_actor },
  { name: 'Migration20261203140000_external_attachments', class: Migration20261203140000_external_attachments },
  { name: 'Migration20261203160000_user_avatar', class: Migration20261203160000_user_avatar },
  { name: 'Migration20261203170000_account_deletion', class: Migration20261203170000_account_deletion },
  { name: 'Migration20261207143000_archive_uploads_devices', class: Migration20261207143000_archive_uploads_devices },
  { name: 'Migration20261207144500_refresh_grace', class: Migration20261207144500_refresh_grace },
  { name: 'Migration20261207150000_privacy', class: Migration20261207150000_privacy },
  { name: 'Migration20261207153500_contact_pair', class: Migration20261207153500_contact_pair },
  { name: 'Migration20261207180000_reactions', class: Migration20261207180000_reactions },
  { name: 'Migration20261207181000_revisions_pins_forwarding', class: Migration20261207181000_revisions_pins_forwarding },
  { name: 'Migration20261207182000_search', class: Migration20261207182000_search },
  { name: 'Migration20261207183000_push_outbox', class: Migration20261207183000_push_outbox },
  { name: 'Migration20261207190000_webhooks', class: Migration20261207190000_webhooks },
  { name: 'Migration20261207200000_threads', class: Migration20261207200000_threads },
];
