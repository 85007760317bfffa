import { Arg, Ctx, Extensions, ID, Int, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { SearchHitConnection, SearchOrder } from '../types/search.type';
import { PAGE_MAX } from '../../domain/shared/pagination';
import { DEFAULT_ITEMS, MAX_ITEMS } from '../../security/query-cost';

/** Contract: searchMessages (issue 33; docs/search.md). One domain call. */
@Resolver()
export class SearchResolver {
  @Extensions({ [MAX_ITEMS]: PAGE_MAX, [DEFAULT_ITEMS]: 20 })
  @Query(() => SearchHitConnection, {
    description:
      'Messages the viewer may read now. Query syntax: words, "exact phrase", -excluded, from:<username>, in:<conversation id>, before:YYYY-MM-DD, after:YYYY-MM-DD, has:file, has:image, has:link, is:pinned, is:thread. Vietnamese matches with or without diacritics (exact ones rank first); Chinese and Japanese match inside a run of characters, one character included; Persian and Arabic letter forms and ZWNJ match each other.',
  })
  searchMessages(
    @Arg('query', () => String) query: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('conversationId', () => ID, { nullable: true }) conversationId?: string,
    @Arg('orderBy', () => SearchOrder, { nullable: true, defaultValue: SearchOrder.RELEVANCE }) orderBy?: SearchOrder,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.search.search(ctx.scope(), { query, conversationId, orderBy, first, after });
  }
}
